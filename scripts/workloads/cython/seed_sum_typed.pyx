# The article's "typed" Cython version of calculate_sum: C ints, so the sum silently wraps
# around 2**31 and the module prints -2004260032 instead of 50000005000000.

def calculate_sum(int n):
    cdef int total = 0
    cdef int i
    for i in range(1, n + 1):
        total += i
    return total


print(calculate_sum(10_000_000))
