#ifndef INSIGHT_CCMARKGFM_SHIM_H
#define INSIGHT_CCMARKGFM_SHIM_H
/* GitHub's CommonMark + GFM reference parser and its core extensions (tables, task lists, strikethrough, autolinks). */
#include <cmark-gfm.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm-core-extensions.h>
#endif
