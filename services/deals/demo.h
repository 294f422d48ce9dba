// File: services/deals/demo.h
#pragma once
