#include <stdio.h>
int main(void) { puts("kinlake"); return 0; }
