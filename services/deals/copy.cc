#include "services/deals/copy.h"
