/** The migrated database every test file clones. */
export const TEMPLATE_DB = 'solbound_template';
