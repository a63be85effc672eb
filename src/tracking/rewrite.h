// Adding engagement tracking to a rendered HTML email.
//
// rewrite_html() turns the href of every <a>, <area> and Outlook VML shape (<v:roundrect> …)
// that points to an absolute http:// or https:// URL into a signed click link, and puts the open
// pixel before the last </body> (or at the end when there is none). It leaves alone: mailto:,
// tel:, #fragments, relative and other-scheme links; links already on the tracking base URL
// (unsubscribe and preferences links put in by the template); links with the attribute
// `data-tp-no-track`; URLs that are not valid UTF-8, contain control characters or are over
// kMaxLinkUrlBytes. Entities in hrefs are decoded (`&amp;` → `&`) before signing, as a browser
// would; the new href is written double-quoted and escaped. The rest of the document, comments,
// <style>/<script>/<title>/<textarea> contents and CDATA included, is copied byte for byte;
// the content of Outlook conditional comments (<!--[if mso]> … <![endif]-->) is scanned, since
// Outlook renders it.
//
// A pure function of its arguments and the signer's clock; thread-safe.
// Errors: kInvalidArgument when the context cannot be signed (empty message_key or user_id,
// fields over the limits, invalid UTF-8), naming the field.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "tracking/links.h"

namespace tp::tracking {

struct RewriteOptions {
  bool track_clicks = true;    // rewrite links
  bool add_open_pixel = true;  // append the open pixel
};

struct RewrittenHtml {
  std::string html;
  // The open, unsubscribe (List-Unsubscribe header) and preferences URLs of this message,
  // issued at the same second as the click links.
  EmailLinks links;
  int links_tracked = 0;  // hrefs turned into click links
  int links_kept = 0;     // http(s) hrefs deliberately left alone (tracking base, opted out, too long)
  bool pixel_added = false;
};

Result<RewrittenHtml> rewrite_html(std::string_view html, const LinkSigner& signer, const LinkContext& context,
                                   const RewriteOptions& options = {});

// The <img> tag of the open pixel for `open_url` (escaped).
std::string open_pixel_tag(std::string_view open_url);

// Building blocks, exposed for tests and the fuzzer.
//
// An attribute value as a browser reads it: character references decoded (&amp; &#38; &#x26;
// and the common named ones; legacy ones without ';' only when not followed by a letter, digit
// or '='), invalid numeric references as U+FFFD.
std::string decode_attribute_value(std::string_view raw);

}  // namespace tp::tracking
