/* stub */
#include "contacts.h"
