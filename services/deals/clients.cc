#include "services/deals/clients.h"
