"""Four short passages and a question the shipped adapter ranks right (shared by the API tests).

Written for these tests (no dataset); with the shipped adapter "Who wrote Hamlet?" puts the Hamlet
passage first (P(True) 0.50 against 0.38-0.42) and the answer names Shakespeare.
"""

QUESTION = "Who wrote Hamlet?"
DOCS = [
    "Hamlet is a tragedy written by William Shakespeare between 1599 and 1601.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Mount Everest is Earth's highest mountain above sea level.",
]
GOLD = 0
