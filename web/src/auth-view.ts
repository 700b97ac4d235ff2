import type { FlametalkClient, Session } from '../../src/client/index.ts';
import { describeError, h } from './dom.ts';

/** Sign in, or sign up; resolves once a session exists. */
export function authView(client: FlametalkClient, notice: string | undefined, onSignedIn: (session: Session) => void): HTMLElement {
  const error = h('p', { class: 'error', id: 'auth-error', role: 'alert' }, notice ?? '');

  async function submit(event: Event, work: (data: FormData) => Promise<Session>): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const button = form.querySelector('button')!;
    button.disabled = true;
    error.textContent = '';
    try {
      onSignedIn(await work(new FormData(form)));
    } catch (failure) {
      error.textContent = describeError(failure);
    } finally {
      button.disabled = false;
    }
  }
  const field = (data: FormData, name: string): string => String(data.get(name) ?? '').trim();

  const signIn = h('form', {
    id: 'sign-in', onsubmit: (event) => void submit(event, (data) => client.signIn({ email: field(data, 'email'), password: String(data.get('password')) })),
  },
  h('h2', {}, 'Sign in'),
  h('label', {}, 'Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
  h('label', {}, 'Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
  h('button', { type: 'submit' }, 'Sign in'));

  const signUp = h('form', {
    id: 'sign-up',
    onsubmit: (event) => void submit(event, (data) => client.signUp({
      nickname: field(data, 'nickname'), email: field(data, 'email'), password: String(data.get('password')),
    })),
  },
  h('h2', {}, 'New here? Sign up'),
  h('label', {}, 'Nickname', h('input', { name: 'nickname', required: true, maxlength: '40', autocomplete: 'nickname' })),
  h('label', {}, 'Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
  h('label', {}, 'Password', h('input', { name: 'password', type: 'password', required: true, minlength: '8', autocomplete: 'new-password' })),
  h('button', { type: 'submit' }, 'Sign up'));

  return h('section', { id: 'auth' }, h('h1', {}, 'flametalk'), error, h('div', { class: 'auth-forms' }, signIn, signUp));
}
