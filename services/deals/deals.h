// File: services/deals/deals.h
#pragma once
