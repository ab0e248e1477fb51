#ifndef INSIGHT_CSYSTEMD_SHIM_H
#define INSIGHT_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
