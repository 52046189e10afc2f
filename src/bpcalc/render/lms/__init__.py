"""Class sets into quiz systems: Moodle XML (moodle.py), Canvas QTI 1.2 packages (qti.py), GIFT (gift.py), all
from the questions questions.py makes of a worksheet; written with the standard library alone."""
