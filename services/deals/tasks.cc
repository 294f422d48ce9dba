#include "services/deals/tasks.h"
