/* Keeps ps_test_support a valid library while its other sources are
 * optional (each test links it). */
int ps_test_support_anchor;
