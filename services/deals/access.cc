#include "services/deals/access.h"
