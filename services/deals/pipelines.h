// File: services/deals/pipelines.h
#pragma once
