/* C variant of workloads/leibniz.py: the same loop written by hand, built with gcc -O2.
   Reads BENCH_SCALE like the Python script and prints the same line, the float in repr's
   form (the shortest "%.*g" that reads back as the same double). */
#include <stdio.h>
#include <stdlib.h>

static double leibniz(long long n)
{
    double s = 0.0, sign = 1.0;
    for (long long k = 0; k < n; k++) {
        s += sign / (double)(2 * k + 1);
        sign = -sign;
    }
    return s;
}

static void print_repr(double x)
{
    char text[32];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, x);
        if (strtod(text, NULL) == x)
            break;
    }
    printf("%s", text);
}

int main(void)
{
    const char *scale = getenv("BENCH_SCALE");
    long long n = (long long)(10000000 * (scale ? atof(scale) : 1.0));
    printf("leibniz(%lld) = ", n);
    print_repr(leibniz(n));
    printf("\n");
    return 0;
}
