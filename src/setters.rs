//! The configuration setters shared by contexts and callers.

/// Generates the configuration setters shared by contexts and callers, forwarding to
/// [`RetryPolicy`]: to the `policy` field, or to the field at the path given (`caller.policy`
/// for the bound callers).
macro_rules! policy_setters {
    () => {
        $crate::setters::policy_setters!(policy);
    };
    ($($field:ident).+) => {
        /// Replaces the whole configuration with `policy`.
        pub fn policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.$($field).+ = policy;
            self
        }

        /// Makes at most `attempts` calls, the first one included; `0` behaves as `1`
        /// (see [`RetryPolicy::attempts`]).
        pub fn attempts(mut self, attempts: u32) -> Self {
            self.$($field).+ = self.$($field).+.attempts(attempts);
            self
        }

        /// Removes the attempts limit (see [`RetryPolicy::unlimited_attempts`]).
        pub fn unlimited_attempts(mut self) -> Self {
            self.$($field).+ = self.$($field).+.unlimited_attempts();
            self
        }

        /// Sets the total time budget (see [`RetryPolicy::timeout`]).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.timeout(timeout);
            self
        }

        /// Removes the total time budget (see [`RetryPolicy::no_timeout`]).
        pub fn no_timeout(mut self) -> Self {
            self.$($field).+ = self.$($field).+.no_timeout();
            self
        }

        /// Sets the exponential part of the first wait (see [`RetryPolicy::wait_initial`]).
        pub fn wait_initial(mut self, wait: ::std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.wait_initial(wait);
            self
        }

        /// Sets the cap on computed waits (see [`RetryPolicy::wait_max`]).
        pub fn wait_max(mut self, wait: ::std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.wait_max(wait);
            self
        }

        /// Sets the upper bound of the jitter (see [`RetryPolicy::wait_jitter`]).
        pub fn wait_jitter(mut self, jitter: ::std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.wait_jitter(jitter);
            self
        }

        /// Sets the growth factor of the waits (see [`RetryPolicy::wait_exp_base`]).
        ///
        /// # Panics
        ///
        /// If `base` is NaN, infinite or smaller than 1.
        #[track_caller]
        pub fn wait_exp_base(mut self, base: f64) -> Self {
            self.$($field).+ = self.$($field).+.wait_exp_base(base);
            self
        }

        /// Sets the growth factor of the waits, or tells why it cannot work (see
        /// [`RetryPolicy::try_wait_exp_base`]).
        ///
        /// # Errors
        ///
        /// If `base` is NaN, infinite or smaller than 1.
        pub fn try_wait_exp_base(mut self, base: f64) -> Result<Self, $crate::ConfigError> {
            self.$($field).+ = self.$($field).+.try_wait_exp_base(base)?;
            Ok(self)
        }

        /// Chooses the jitter family (see [`RetryPolicy::jitter`]).
        pub fn jitter(mut self, jitter: $crate::Jitter) -> Self {
            self.$($field).+ = self.$($field).+.jitter(jitter);
            self
        }

        /// Sets a ceiling on waits asked for by the `on` predicate (see
        /// [`RetryPolicy::retry_after_max`]).
        pub fn retry_after_max(mut self, ceiling: ::std::time::Duration) -> Self {
            self.$($field).+ = self.$($field).+.retry_after_max(ceiling);
            self
        }

        /// Seeds the jitter's random number generator (see [`RetryPolicy::seed`]).
        pub fn seed(mut self, seed: u64) -> Self {
            self.$($field).+ = self.$($field).+.seed(seed);
            self
        }

        /// The configuration in use.
        pub fn get_policy(&self) -> &$crate::RetryPolicy {
            &self.$($field).+
        }
    };
}

pub(crate) use policy_setters;
