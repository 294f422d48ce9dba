// File: services/deals/clients.h
#pragma once
