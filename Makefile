# twofactord: the two commands of README.md.
#   make run    install what is missing, build, run the daemon in the foreground under ./.run/
#   make test   install what is missing, build, run the whole test suite
#   make bench  build in release mode, run the load generator once (BENCH_ARGS to change what it runs)
#   make bench-compare  the same durable TOTP check through pam_google_authenticator, pam_oath and twofactord
#   make tsan   the concurrent code's tests under ThreadSanitizer, in .build-tsan (not part of make test)
#   make memcheck  the PAM module and the C-edge Swift code under AddressSanitizer (not part of make test)

SWIFT ?= swift
# C libraries we link; then the independent tools the tests check us against (oathtool for codes,
# zbarimg and rsvg-convert to scan our QR codes, systemd-socket-activate for socket activation, setpriv to run as another user,
# systemd-analyze for the units, mandoc to lint the man pages and man for the units' Documentation= links,
# pamtester to drive the PAM module through the real PAM library, readelf and nm to check what it links and exports,
# valgrind to look for memory errors in it,
# postgresql for the throwaway cluster the PostgreSQL store's tests start as the postgres user, pgbouncer to put
# in front of it in transaction mode).
DEB_PACKAGES := pkg-config liblmdb-dev libssl-dev libqrencode-dev libpam0g-dev
TEST_PACKAGES := oathtool zbar-tools librsvg2-bin systemd util-linux mandoc man-db pamtester binutils postgresql pgbouncer valgrind
RUN_DIR := $(CURDIR)/.run
# The PAM module is C linked by cc, not SwiftPM: a SwiftPM library would drag the Swift runtime into sshd.
PAM_SOURCES := $(wildcard Sources/PAMModule/*.c) $(wildcard Sources/PAMModule/*.h)
PAM_MODULE := .build/pam/pam_twofactor.so
PAM_CFLAGS := -shared -fPIC -fvisibility=hidden -O2 -Wall -Wextra -Werror

.PHONY: all deps test-deps build pam-module run test tsan memcheck bench bench-compare clean install uninstall

all: build

# One line per package set; apt's own output is shown only when it fails.
define install_missing
	@missing=""; \
	for package in $(2); do \
		dpkg-query -W -f='$${Status}\n' $$package 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "Installing $(1):$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		log=$$(mktemp); \
		if ! { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } >$$log 2>&1; then \
			cat $$log; rm -f $$log; echo "Installing $(1) failed (apt-get's output is above)."; exit 1; \
		fi; \
		rm -f $$log; \
	fi
endef

deps:
	$(call install_missing,the C libraries,$(DEB_PACKAGES))

test-deps: deps
	$(call install_missing,the test tools,$(TEST_PACKAGES))

build: deps pam-module
	$(SWIFT) build

pam-module: $(PAM_MODULE)

$(PAM_MODULE): $(PAM_SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(PAM_CFLAGS) -o $@ $(filter %.c,$(PAM_SOURCES)) -lpam

run: build
	@mkdir -p -m 700 $(RUN_DIR) $(RUN_DIR)/state
	@bin=$$($(SWIFT) build --show-bin-path); \
	echo; \
	echo "twofactord is starting in the foreground (Ctrl-C stops it). In a second terminal:"; \
	echo; \
	echo "  cd $(CURDIR)"; \
	echo "  $$bin/twofactorctl user add alice --socket $(RUN_DIR)/socket"; \
	echo "  $$bin/twofactorctl 2fa enroll alice --socket $(RUN_DIR)/socket"; \
	echo "  $$bin/twofactor login alice --socket $(RUN_DIR)/socket"; \
	echo; \
	exec $$bin/twofactord --socket $(RUN_DIR)/socket --state-dir $(RUN_DIR)/state

# The tests use Swift Testing. Without XCTest tests, `swift test` would still run the XCTest
# bundle and print its empty "Executed 0 tests" summaries before the real one, so XCTest is
# switched off unless some test imports it (then it runs, and no test is lost).
XCTEST_FLAG = $(if $(shell grep -rlsE '^(@testable )?import XCTest' Tests),,--disable-xctest)

# SwiftPM refuses an import of a package target that is not among the importer's dependencies
# (PackageManifestTests also catches one that only a dependency's dependency brings along).
# The whole suite takes about 5 minutes; a run still going after TEST_DEADLINE has a hung test, and
# Tests/with-deadline.sh stops it and names the tests that never ended.
TEST_DEADLINE ?= 25m
test: test-deps pam-module
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	Tests/with-deadline.sh $(TEST_DEADLINE) $(SWIFT) test --skip-build $(XCTEST_FLAG)

# ThreadSanitizer over the concurrent code (DEVELOPERS.md): the in-process suites of the group commit, the stores
# (the PostgreSQL pool too), the service and the daemon, then integration suites that hammer a TSan-built daemon
# with parallel clients. Reports of the test process and of every program it starts land in TSAN_REPORTS, one
# file per process; Tests/tsan-suppressions.txt says why each suppressed report is not ours. Fails when a
# test fails or any report is left.
TSAN_BUILD := .build-tsan
TSAN_REPORTS ?= /tmp/twofactord-tsan
TSAN_DEADLINE ?= 40m
TSAN_UNIT_SUITES ?= ^(LMDBTests|AccountStoreTests|AccountServiceTests|DaemonTests)\.
TSAN_INTEGRATION_SUITES ?= ^IntegrationTests\.(FairServiceTests|PipeliningTests|HungNSSTests|AuditFloodTests)/
TSAN_SETTINGS = halt_on_error=0:second_deadlock_stack=1:history_size=4:log_path=$(TSAN_REPORTS)/report
TSAN_TEST = TSAN_OPTIONS=$(TSAN_SETTINGS):suppressions=$(CURDIR)/Tests/tsan-suppressions.txt \
	Tests/with-deadline.sh $(TSAN_DEADLINE) $(SWIFT) test --skip-build $(XCTEST_FLAG) --sanitize=thread --scratch-path $(TSAN_BUILD)

tsan: test-deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path $(TSAN_BUILD)
	@rm -rf $(TSAN_REPORTS) && mkdir -p $(TSAN_REPORTS)
	@status=0; \
	$(TSAN_TEST) --filter '$(TSAN_UNIT_SUITES)' || status=1; \
	TWOFACTORD_BIN_DIR=$(CURDIR)/$(TSAN_BUILD)/debug $(TSAN_TEST) --filter '$(TSAN_INTEGRATION_SUITES)' || status=1; \
	reports=$$(grep -l 'WARNING: ThreadSanitizer' $(TSAN_REPORTS)/report.* 2>/dev/null); \
	for report in $$reports; do $(SWIFT) demangle --simplified <$$report >$$report.txt && rm $$report; done; \
	if [ -n "$$reports" ]; then \
		echo "ThreadSanitizer reported races: read $(TSAN_REPORTS)/*.txt, then fix them or suppress them with a reason."; \
		exit 1; \
	fi; \
	exit $$status

# make memcheck (not part of make test; the first run builds .build-asan, about 25 minutes on 2 cores, later runs take
# a few): the C edge under the sanitizers.
# 1. The PAM module built with AddressSanitizer and UndefinedBehaviorSanitizer into its own file, loaded by every
#    pamtester of the suites that drive it (TWOFACTORD_PAM_MODULE, TWOFACTORD_PAMTESTER_PREFIX) with gcc's
#    sanitizer runtimes preloaded. A report goes to $(MEMCHECK_DIR) and fails the target; so does a leak.
#    Skipped there: the readelf test (the sanitized module links the sanitizers), and the test that preloads its
#    own free(), which would come before the sanitizer's runtime; and InvokerLockoutTests, whose pamtester runs
#    with a real uid that is not its effective one, as under su, where the loader ignores LD_PRELOAD.
# 2. The Swift modules that hand pointers to C (LMDB, OpenSSL, libqrencode, the wire codec) and their users, built
#    with AddressSanitizer into .build-asan and tested there. Without the leak checker: Swift keeps an enum's case
#    in the spare bits of the pointer it holds, and LeakSanitizer takes such values (the tests' sample messages,
#    Foundation's weak references) for leaks.
PAM_ASAN_MODULE := .build/pam-asan/pam_twofactor.so
PAM_ASAN_CFLAGS := -shared -fPIC -fvisibility=hidden -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all -Wall -Wextra -Werror
MEMCHECK_DIR := $(CURDIR)/.build/memcheck
MEMCHECK_PAM_SUITES := PAMModuleTests|RequireGroupTests|SinglePromptTests|LoginTextTests|AccessTests|AuthenticatorTests
MEMCHECK_SWIFT_SUITES := LMDBTests|OpenSSLCryptoTests|PasswordHashingTests|OneTimePasswordTests|QRCodeTests|WireTests|AccountStoreTests
MEMCHECK_DEADLINE ?= 40m

$(PAM_ASAN_MODULE): $(PAM_SOURCES)
	@mkdir -p $(dir $@)
	$(CC) $(PAM_ASAN_CFLAGS) -o $@ $(filter %.c,$(PAM_SOURCES)) -lpam

memcheck: test-deps pam-module $(PAM_ASAN_MODULE)
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	@rm -rf $(MEMCHECK_DIR) && mkdir -p -m 1777 $(MEMCHECK_DIR)
	TWOFACTORD_PAM_MODULE=$(CURDIR)/$(PAM_ASAN_MODULE) \
	TWOFACTORD_PAMTESTER_PREFIX="/usr/bin/env LD_PRELOAD=$$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so) ASAN_OPTIONS=log_path=$(MEMCHECK_DIR)/asan UBSAN_OPTIONS=print_stacktrace=1:log_path=$(MEMCHECK_DIR)/ubsan" \
		Tests/with-deadline.sh $(MEMCHECK_DEADLINE) $(SWIFT) test --skip-build $(XCTEST_FLAG) \
		--filter '$(MEMCHECK_PAM_SUITES)' --skip 'module_linksOnlyLibcAndLibpam|answerCutShort'
	@if ls $(MEMCHECK_DIR)/* >/dev/null 2>&1; then \
		cat $(MEMCHECK_DIR)/*; echo "The sanitizers found the errors above in the PAM module."; exit 1; \
	fi
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 \
		Tests/with-deadline.sh $(MEMCHECK_DEADLINE) $(SWIFT) test --sanitize=address --scratch-path .build-asan \
		--skip-build $(XCTEST_FLAG) --filter '$(MEMCHECK_SWIFT_SUITES)' --skip Postgres

# Release builds (install, bench, bench-compare) carry the Swift runtime inside each program, so that installed
# programs need nothing from the toolchain (a dynamic build loads it from the toolchain's folder) and start faster
# (docs/performance.md). All of them use the same flags: switching flags rebuilds every module. Installed programs
# look for no library in their own folder (SwiftPM adds $ORIGIN to each program's RUNPATH otherwise): they
# run as root, under pam_exec too, and need only the system's libraries.
RELEASE_BUILD = $(SWIFT) build -c release --static-swift-stdlib --disable-local-rpath

# The load generator starts its own release-built daemon (--scrypt-log-n 10) on a fresh state under /tmp.
BENCH_ARGS ?= verify --connections 32 --seconds 10 --accounts 16384 --preload

bench: deps
	$(RELEASE_BUILD) --product twofactord
	$(RELEASE_BUILD) --product twofactor-bench
	$$($(RELEASE_BUILD) --show-bin-path)/twofactor-bench $(BENCH_ARGS)

# The incumbents, installed from Debian when missing, and one PAM harness (bench/pam_bench.c) for every module.
COMPARE_PACKAGES := libpam-google-authenticator libpam-oath libpam-modules xxd python3
PAM_BENCH := .build/pam/pam-bench
COMPARE_SECONDS ?= 10

$(PAM_BENCH): bench/pam_bench.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lpam -lcrypto

bench-compare: deps pam-module $(PAM_BENCH)
	$(call install_missing,the PAM modules to compare against,$(COMPARE_PACKAGES))
	$(RELEASE_BUILD) --product twofactord
	$(RELEASE_BUILD) --product twofactor-bench
	bench/compare.sh "$$($(RELEASE_BUILD) --show-bin-path)" $(PAM_MODULE) $(PAM_BENCH) $(COMPARE_SECONDS)

clean:
	rm -rf .build $(RUN_DIR)

# make install [PREFIX=/usr/local] [DESTDIR=] [BIN_DIR=]: where a Debian package would put things.
# Without BIN_DIR, builds release binaries first; a packager or a test that built them already
# names their folder. The PAM module goes where PAM looks (the multiarch security directory, not
# under PREFIX), and only when it was built (make pam-module). The browsers' native-messaging host
# goes into PREFIX/lib/twofactord, running PREFIX/bin/twofactor, with example manifests naming it.
PREFIX ?= /usr/local
BIN_DIR ?=
NATIVE_HOST_DIR = $(PREFIX)/lib/twofactord
NATIVE_MANIFESTS = org.twofactord.helper.json org.twofactord.helper.firefox.json
NATIVE_EXAMPLES = $(PREFIX)/share/doc/twofactord/examples/native-messaging
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
PAM_DIR ?= $(firstword $(wildcard /usr/lib/$(MULTIARCH)/security /lib/$(MULTIARCH)/security) /usr/lib/security)
INSTALLED = \
	$(PREFIX)/sbin/twofactord $(PREFIX)/sbin/twofactord-postgres $(PREFIX)/bin/twofactorctl $(PREFIX)/bin/twofactor \
	$(PREFIX)/lib/systemd/system/twofactord.service $(PREFIX)/lib/systemd/system/twofactord.socket \
	$(PREFIX)/lib/sysusers.d/twofactord.conf $(PREFIX)/lib/tmpfiles.d/twofactord.conf \
	$(PREFIX)/share/man/man1/twofactor.1 $(PREFIX)/share/man/man5/twofactord.conf.5 \
	$(PREFIX)/share/man/man8/twofactord.8 $(PREFIX)/share/man/man8/twofactorctl.8 \
	$(PREFIX)/share/doc/twofactord/examples/twofactord.conf $(PAM_DIR)/pam_twofactor.so \
	$(NATIVE_HOST_DIR)/twofactor-native-host $(addprefix $(NATIVE_EXAMPLES)/,$(NATIVE_MANIFESTS)) \
	$(patsubst man/%,$(PREFIX)/share/man/man8/%,$(filter-out man/twofactorctl.8 man/twofactord.8,$(wildcard man/*.8)))

install:
	@bin="$(BIN_DIR)"; \
	if [ -z "$$bin" ]; then $(RELEASE_BUILD) && bin=$$($(RELEASE_BUILD) --show-bin-path) || exit 1; fi; \
	set -e; \
	install -d -m 0755 "$(DESTDIR)$(PREFIX)/sbin" "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(PREFIX)/lib/systemd/system" \
		"$(DESTDIR)$(PREFIX)/lib/sysusers.d" "$(DESTDIR)$(PREFIX)/lib/tmpfiles.d" "$(DESTDIR)$(PREFIX)/share/man/man1" \
		"$(DESTDIR)$(PREFIX)/share/man/man5" "$(DESTDIR)$(PREFIX)/share/man/man8" \
		"$(DESTDIR)$(PREFIX)/share/doc/twofactord/examples" "$(DESTDIR)$(NATIVE_HOST_DIR)" \
		"$(DESTDIR)$(NATIVE_EXAMPLES)"; \
	install -m 0755 "$$bin/twofactord" "$$bin/twofactord-postgres" "$(DESTDIR)$(PREFIX)/sbin/"; \
	install -m 0755 "$$bin/twofactorctl" "$$bin/twofactor" "$(DESTDIR)$(PREFIX)/bin/"; \
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' systemd/twofactord.service.in > "$(DESTDIR)$(PREFIX)/lib/systemd/system/twofactord.service"; \
	chmod 0644 "$(DESTDIR)$(PREFIX)/lib/systemd/system/twofactord.service"; \
	install -m 0644 systemd/twofactord.socket "$(DESTDIR)$(PREFIX)/lib/systemd/system/"; \
	install -m 0644 systemd/twofactord.sysusers "$(DESTDIR)$(PREFIX)/lib/sysusers.d/twofactord.conf"; \
	install -m 0644 systemd/twofactord.tmpfiles "$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/twofactord.conf"; \
	for page in man/*.[158]; do \
		install -m 0644 "$$page" "$(DESTDIR)$(PREFIX)/share/man/man$${page##*.}/"; \
	done; \
	install -m 0644 examples/twofactord.conf "$(DESTDIR)$(PREFIX)/share/doc/twofactord/examples/"; \
	sed 's|@BINDIR@|$(PREFIX)/bin|' contrib/native-messaging/twofactor-native-host.in \
		> "$(DESTDIR)$(NATIVE_HOST_DIR)/twofactor-native-host"; \
	chmod 0755 "$(DESTDIR)$(NATIVE_HOST_DIR)/twofactor-native-host"; \
	for manifest in $(NATIVE_MANIFESTS); do \
		sed 's|@HOSTDIR@|$(NATIVE_HOST_DIR)|' "contrib/native-messaging/$$manifest.in" \
			> "$(DESTDIR)$(NATIVE_EXAMPLES)/$$manifest"; \
		chmod 0644 "$(DESTDIR)$(NATIVE_EXAMPLES)/$$manifest"; \
	done; \
	if [ -f "$(PAM_MODULE)" ]; then \
		install -d -m 0755 "$(DESTDIR)$(PAM_DIR)"; \
		install -m 0644 "$(PAM_MODULE)" "$(DESTDIR)$(PAM_DIR)/pam_twofactor.so"; \
	else \
		echo "Not installing the PAM module: $(PAM_MODULE) is not built (make pam-module)."; \
	fi

uninstall:
	rm -f $(addprefix "$(DESTDIR),$(addsuffix ",$(INSTALLED)))
	-rmdir "$(DESTDIR)$(NATIVE_EXAMPLES)" "$(DESTDIR)$(PREFIX)/share/doc/twofactord/examples" \
		"$(DESTDIR)$(PREFIX)/share/doc/twofactord" "$(DESTDIR)$(NATIVE_HOST_DIR)" 2>/dev/null
