#ifndef INSIGHT_CLIBXML2_SHIM_H
#define INSIGHT_CLIBXML2_SHIM_H
#include <string.h>
#include <libxml/xmlversion.h>
/* libxml2 built with ICU pulls <unicode/ucnv.h> into encoding.h, which clashes with the ICU copy
   that Foundation brings. Nothing here touches the ICU members of the encoding handler (handlers
   are only ever passed by pointer), so the ICU part of the headers is left out. */
#ifdef LIBXML_ICU_ENABLED
#undef LIBXML_ICU_ENABLED
#endif
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/parser.h>
#include <libxml/encoding.h>
#include <libxml/xmlIO.h>

/* xmlFree is a global function pointer, which Swift 6 sees as shared mutable state. */
static inline void insight_xml_free(void *p) { xmlFree(p); }

static inline size_t insight_strlen(const unsigned char *s) { return strlen((const char *)s); }

static inline const unsigned char *insight_memchr(const unsigned char *s, int c, size_t n) {
    return (const unsigned char *)memchr(s, c, n);
}

#endif
