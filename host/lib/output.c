/* stub */
#include "output.h"
