/* stub */
#include "dedup.h"
