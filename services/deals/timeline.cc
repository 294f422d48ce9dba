#include "services/deals/timeline.h"
