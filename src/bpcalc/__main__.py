from bpcalc import main

main()
