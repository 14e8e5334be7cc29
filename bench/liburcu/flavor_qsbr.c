/* The qsbr flavor's read-side and grace-period loops (see flavor_body.h). */
#define _LGPL_SOURCE
#define URCU_API_MAP
#include <urcu/urcu-qsbr.h>

#define SHIM_READ shim_qsbr_read
#define SHIM_GP shim_qsbr_gp
#define SHIM_READ_LOOP shim_qsbr_read_loop
#define SHIM_READ_LOOP_BODY shim_qsbr_read_loop_body
#define SHIM_QSBR 1
#include "flavor_body.h"
