/**
 * The fixed strings around generated prompts (system prompts, question and
 * summary prefixes, the multi-turn instructions). Their token counts are
 * computed once, ahead of time (corpus-tokens.ts), so building the default
 * mix's prompts never loads the tokenizer.
 */

export const QUESTIONS: readonly string[] = [
  'What is the main idea of the passage?',
  'Which example in the passage best supports its argument, and why?',
  'What does the passage suggest about how systems change over time?',
  'What lesson could an engineer take from the passage?',
  'Which claim in the passage would be easiest to test, and how?',
  'What is one assumption the passage makes without stating it?',
];

export const QA_SYSTEM = 'You are a careful assistant. Answer questions using only the passage you are given, in a few sentences.';
export const SUMMARY_SYSTEM = 'You are a concise assistant that writes faithful summaries.';
export const SUMMARY_PREFIX = 'Summarize the following text in three to five sentences.\n\n';
/** The system prompt of a multi-turn chat; after a shared prefix it follows a space. */
export const CHAT_INSTRUCTIONS = 'You are a helpful assistant. Answer clearly and concisely.';

/** The user message's lead-in before a question's passage. */
export function qaPrefix(question: string): string {
  return `Question: ${question}\nAnswer it using the passage below.\n\nPassage:\n`;
}

/** Every fixed string whose count a prompt adds up (the table in corpus-tokens.ts holds one count for each). */
export function templateStrings(): string[] {
  return [QA_SYSTEM, SUMMARY_SYSTEM, SUMMARY_PREFIX, ...QUESTIONS.map(qaPrefix), CHAT_INSTRUCTIONS, ` ${CHAT_INSTRUCTIONS}`];
}
