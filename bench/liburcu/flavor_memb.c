/* The memb flavor's read-side and grace-period loops (see flavor_body.h). */
#define _LGPL_SOURCE
#define URCU_API_MAP
#include <urcu/urcu-memb.h>

#define SHIM_READ shim_memb_read
#define SHIM_GP shim_memb_gp
#define SHIM_READ_LOOP shim_memb_read_loop
#define SHIM_READ_LOOP_BODY shim_memb_read_loop_body
#define SHIM_QSBR 0
#include "flavor_body.h"
