#include <criterion/criterion.h>
Test(placeholder, empty) { cr_assert(1); }
