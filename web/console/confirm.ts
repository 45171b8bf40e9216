/** A confirmation in the page (a <dialog>), so that every change is seen before it is made. */
import { h, replace } from './dom.js';

let dialog: HTMLDialogElement | undefined;

export function confirmAction(title: string, body: Node | string, confirmLabel: string): Promise<boolean> {
  dialog ??= document.body.appendChild(h('dialog', { id: 'confirm' }));
  const d = dialog;
  return new Promise((resolve) => {
    const close = (answer: boolean) => () => {
      d.close();
      resolve(answer);
    };
    replace(
      d,
      h('h3', {}, title),
      h('div', { class: 'dialog-body' }, body),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', id: 'confirm-cancel', onclick: close(false) }, 'Cancel'),
        h('button', { type: 'button', id: 'confirm-ok', class: 'primary', onclick: close(true) }, confirmLabel),
      ),
    );
    d.addEventListener('cancel', close(false), { once: true });
    d.showModal();
  });
}
