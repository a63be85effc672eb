// The small HTML pages of the tracking endpoints: unsubscribe confirmation and result, the
// preference page, and error pages. Self-contained (inline CSS, no scripts, no external
// resources), UTF-8, English, accessible (labels, fieldset/legend, role="status", visible focus),
// forms that POST to the page's own URL. Everything interpolated is HTML-escaped.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tracking/config.h"

namespace tp::tracking {

// GET /t/u/…: "Unsubscribe from {company}?" with one button (posts List-Unsubscribe=One-Click).
std::string unsubscribe_confirm_page(std::string_view company, std::string_view preferences_href);
// After the unsubscribe POST.
std::string unsubscribed_page(std::string_view company, std::string_view preferences_href);

enum class PreferencesNotice { kNone, kSaved, kUnsubscribedAll };
// One checkbox per purpose, checked when `state` says true (or has no entry for it). Buttons
// "Save preferences" (action=save) and "Unsubscribe from all" (action=unsubscribe-all).
std::string preferences_page(std::string_view company, const std::vector<Purpose>& purposes,
                             const std::map<std::string, bool>& state, PreferencesNotice notice);

// A page with a heading and one paragraph (errors: invalid link, method not allowed, …).
std::string message_page(std::string_view company, std::string_view title, std::string_view text);

}  // namespace tp::tracking
