#include "services/deals/demo.h"
