/* C variant of scripts/examples/seed_sum.py: calculate_sum(10_000_000) with int64, which
   holds the exact result (50000005000000); compiled with gcc -O2. */
#include <stdint.h>
#include <stdio.h>

static int64_t calculate_sum(int64_t n)
{
    int64_t total = 0;
    for (int64_t i = 1; i < n + 1; i++)
        total += i;
    return total;
}

int main(void)
{
    printf("%lld\n", (long long)calculate_sum(10000000));
    return 0;
}
