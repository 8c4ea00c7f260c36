/* stub */
#include "loader.h"
