#include "event/normalizer.h"
