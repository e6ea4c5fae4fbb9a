"""The BYOM example server, run for real as a subprocess, and its detector, called directly.

No Django: the server is a standalone program that speaks V7 Darwin's "Bring Your Own Model"
contract, and every response is checked against that contract's response schema.
"""
