// Typed, non-variadic wrappers of libcurl's variadic calls, which Swift cannot call directly.
#ifndef FLEETWAVE_CCURL_SHIM_H
#define FLEETWAVE_CCURL_SHIM_H

#include <curl/curl.h>

static inline CURLcode fw_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fw_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fw_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fw_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fw_curl_easy_setopt_blob(CURL *handle, CURLoption option, struct curl_blob *value) {
  return curl_easy_setopt(handle, option, value);
}

typedef size_t (*fw_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode fw_curl_easy_setopt_data_callback(CURL *handle, CURLoption option, fw_curl_data_callback callback) {
  return curl_easy_setopt(handle, option, callback);
}

typedef int (*fw_curl_xferinfo_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode fw_curl_easy_setopt_xferinfo_callback(CURL *handle, fw_curl_xferinfo_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode fw_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fw_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fw_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fw_curl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLSHcode fw_curl_share_setopt_long(CURLSH *share, CURLSHoption option, long value) {
  return curl_share_setopt(share, option, value);
}

typedef int (*fw_curl_debug_callback)(
    CURL *handle, curl_infotype type, char *data, size_t size, void *context);

static inline CURLcode fw_curl_easy_setopt_debug_callback(
    CURL *handle, fw_curl_debug_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

static inline CURLcode fw_curl_easy_setopt_slist(
    CURL *handle, CURLoption option, struct curl_slist *list) {
  return curl_easy_setopt(handle, option, list);
}

/* CURL_GLOBAL_ALL and CURL_ERROR_SIZE are macros Swift does not import. */
static inline CURLcode fw_curl_global_init_all(void) {
  return curl_global_init(CURL_GLOBAL_ALL);
}

static inline size_t fw_curl_error_size(void) {
  return CURL_ERROR_SIZE;
}

/* The result of a finished transfer, read out of CURLMsg's anonymous union. */
static inline CURLMcode fw_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
  return curl_multi_setopt(multi, option, value);
}

static inline CURLcode fw_curl_msg_result(const CURLMsg *message) {
  return message->data.result;
}

#endif
