# Sourced by scripts/test: rsyslog (Debian's rsyslog and rsyslog-gnutls), a
# real RFC 5425 syslog-over-TLS receiver for the audit export tests. Each of
# those tests runs its own rsyslogd on a free port, with a throwaway CA it
# generates, so that it can stop and restart the receiver (an outage); this
# only checks that one can run.
#   rsyslog_check   exports CLINOMICS_TEST_RSYSLOGD (the rsyslogd program)
#                   once rsyslogd and its gtls network driver are installed

rsyslog_check() {
  local bin
  bin=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
  [[ -x $bin ]] || { echo "rsyslog.sh: rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls)" >&2; return 1; }
  compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null \
    || { echo "rsyslog.sh: rsyslog's TLS driver not installed (apt-get install rsyslog-gnutls)" >&2; return 1; }
  export CLINOMICS_TEST_RSYSLOGD=$bin
  echo "rsyslog: $("$bin" -v | head -1)" >&2
}
