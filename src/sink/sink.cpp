#include "sink/sink.h"
