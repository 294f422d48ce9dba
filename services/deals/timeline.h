// File: services/deals/timeline.h
#pragma once
