#include "services/deals/pipelines.h"
