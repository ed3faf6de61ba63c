"""The acquisition simulator: synthetic chest phantoms and the changes between photons and PNG.

Used by the demo, the tests and the evaluations; never imported by the analysis path.
"""
