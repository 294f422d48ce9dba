#include "services/deals/deals.h"
