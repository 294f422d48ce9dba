// File: services/deals/copy.h
#pragma once
