#ifndef INSIGHT_CIDN2_SHIM_H
#define INSIGHT_CIDN2_SHIM_H
/* GNU libidn2: IDNA2008 with the UTS #46 mapping (the library libcurl uses for host names). */
#include <idn2.h>
#include <stdlib.h>
#endif
