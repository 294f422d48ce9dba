// File: services/deals/access.h
#pragma once
