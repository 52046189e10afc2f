"""Explanations read from a trace: chain-rule derivations, function derivations, notation, check-my-work
(expected values) and where hand rounding departs from the exact step."""
