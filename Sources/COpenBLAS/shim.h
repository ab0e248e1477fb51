#ifndef INSIGHT_COPENBLAS_SHIM_H
#define INSIGHT_COPENBLAS_SHIM_H
/* Debian's OpenBLAS cblas.h (pkg-config openblas puts its folder on the include path);
   it also declares openblas_set_num_threads. */
#include <cblas.h>
#endif
