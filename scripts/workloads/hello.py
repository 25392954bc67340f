"""Start-up cost: the whole program is one print."""

print("hello world")
