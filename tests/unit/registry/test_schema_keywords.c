/* placeholder */
void registry_keyword_tests_placeholder(void);
void registry_keyword_tests_placeholder(void) {}
