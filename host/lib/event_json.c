/* stub */
#include "event_json.h"
