// File: services/deals/tasks.h
#pragma once
